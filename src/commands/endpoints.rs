//! `c9aws __endpoints` (hidden): answers endpoint queries from stdin, one per
//! line, with the core's endpoint resolver (for the differential tests, which
//! compare it with botocore's).

use crate::core::endpoints;
use crate::error::Error;
use std::io::{BufRead, Write};

pub fn run() -> Result<i32, Error> {
    let stdin = std::io::stdin().lock();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in stdin.lines() {
        let Ok(line) = line else { return Ok(1) };
        writeln!(out, "{}", endpoints::batch_answer(&line)).map_err(|_| Error::Stdout)?;
    }
    out.flush().map_err(|_| Error::Stdout)?;
    Ok(0)
}
