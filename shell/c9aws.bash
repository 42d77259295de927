# c9aws shell integration for bash. Load it from ~/.bashrc with:
#   eval "$(c9aws init bash)"
# `aws` then runs through c9aws (while the c9aws binary exists; otherwise the
# real aws runs), and tab completion answers for both `aws` and `c9aws`
# through the AWS CLI's own aws_completer. `command aws …` bypasses c9aws.
__c9aws_bin=@C9AWS_BIN@

# Programs, not only this shell: kubectl's exec plugin, make, eksctl and IDE
# tasks find `aws` through PATH, where a function never reaches. When
# `c9aws setup --path-shim` made it, the directory whose `aws` is a symlink
# to c9aws goes first on PATH (once). `c9aws setup --remove-path-shim` undoes it.
__c9aws_path_dir=@C9AWS_PATH_DIR@
if [ -n "$__c9aws_path_dir" ] && [ -L "$__c9aws_path_dir/aws" ]; then
  case ":$PATH:" in
    *":$__c9aws_path_dir:"*) ;;
    *) PATH="$__c9aws_path_dir:$PATH"; export PATH ;;
  esac
fi

# A function, not an alias: it is found wherever a command is (also in other
# functions and in `eval`), and it falls back to the real aws by itself.
# `command aws` skips it; `\aws` skips only aliases, so it still runs c9aws.
# An alias named aws would win over the function when typed (and bash would
# expand it in the definition below): drop it.
unalias aws 2>/dev/null || true
aws() {
  if [ -x "$__c9aws_bin" ]; then
    "$__c9aws_bin" "$@"
  else
    command aws "$@"
  fi
}

# Completion for c9aws: its own words first, then the AWS CLI's; after
# `c9aws explain [--json] [--refresh]` the rest of the line completes as an
# aws command line. The line is cut as text (not rebuilt from COMP_WORDS,
# which bash splits at `:` and `=`), so s3:// paths reach aws_completer intact.
__c9aws_complete() {
  local cur=${COMP_WORDS[COMP_CWORD]-} line=${COMP_LINE:0:COMP_POINT}
  COMPREPLY=()
  if [ "$COMP_CWORD" -eq 1 ]; then
    mapfile -t COMPREPLY < <(compgen -W "explain doctor init setup exec credential-process" -- "$cur")
  elif [ "$COMP_CWORD" -eq 2 ] && [ "${COMP_WORDS[1]-}" = init ]; then
    mapfile -t COMPREPLY < <(compgen -W "bash zsh fish" -- "$cur")
    return 0
  elif [ "${COMP_WORDS[1]-}" = explain ]; then
    # Drop `… explain` and explain's own flags; what is left is aws's.
    line=${line#*[[:space:]]explain}
    while [[ $line =~ ^[[:space:]]+(--json|--refresh)([[:space:]].*)$ ]]; do
      line=${BASH_REMATCH[2]}
    done
    line="aws$line"
    if [[ $cur == -* && $line =~ ^aws[[:space:]]+-[^[:space:]]*$ ]]; then
      mapfile -t COMPREPLY < <(compgen -W "--json --refresh" -- "$cur")
    fi
  fi
  if command -v aws_completer >/dev/null 2>&1; then
    local more m
    mapfile -t more < <(COMP_LINE=$line COMP_POINT=${#line} aws_completer 2>/dev/null)
    for m in "${more[@]}"; do
      # AWS CLI v1 ends all but the last candidate with a space.
      m=${m% }
      [ -n "$m" ] && COMPREPLY+=("$m")
    done
  fi
  return 0
}

if command -v aws_completer >/dev/null 2>&1; then
  complete -C aws_completer aws
fi
complete -F __c9aws_complete c9aws
