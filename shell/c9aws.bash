# c9aws shell integration for bash. Load it from ~/.bashrc with:
#   eval "$(c9aws init bash)"
# `aws` then runs through c9aws (while the c9aws binary exists; otherwise the
# real aws runs), and tab completion answers for both `aws` and `c9aws`
# through the AWS CLI's own aws_completer. `command aws …` bypasses c9aws.
__c9aws_bin=@C9AWS_BIN@

aws() {
  if [ -x "$__c9aws_bin" ]; then
    "$__c9aws_bin" "$@"
  else
    command aws "$@"
  fi
}

# Completion for c9aws: its own words first, then the AWS CLI's; after
# `c9aws explain` the rest of the line completes as an aws command line.
__c9aws_complete() {
  local cur=${COMP_WORDS[COMP_CWORD]-} line=$COMP_LINE point=$COMP_POINT
  COMPREPLY=()
  if [ "$COMP_CWORD" -eq 1 ]; then
    mapfile -t COMPREPLY < <(compgen -W "explain doctor init setup exec credential-process" -- "$cur")
  fi
  if [ "$COMP_CWORD" -gt 1 ] && [ "${COMP_WORDS[1]-}" = explain ]; then
    local head=${line%%explain*}explain
    line="aws${line:${#head}}"
    point=$((point - ${#head} + 3))
  fi
  if command -v aws_completer >/dev/null 2>&1; then
    local more m
    mapfile -t more < <(COMP_LINE=$line COMP_POINT=$point aws_completer)
    for m in "${more[@]}"; do
      [ -n "$m" ] && COMPREPLY+=("$m")
    done
  fi
}

if command -v aws_completer >/dev/null 2>&1; then
  complete -C aws_completer aws
fi
complete -F __c9aws_complete c9aws
