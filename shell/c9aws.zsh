# c9aws shell integration for zsh. Load it from ~/.zshrc with:
#   eval "$(c9aws init zsh)"
# `aws` then runs through c9aws (while the c9aws binary exists; otherwise the
# real aws runs), and tab completion answers for both `aws` and `c9aws`
# through the AWS CLI's own aws_completer (zsh's bash-completion bridge, as
# AWS documents it). `command aws …` bypasses c9aws.
typeset -g __c9aws_bin=@C9AWS_BIN@

aws() {
  if [[ -x $__c9aws_bin ]]; then
    "$__c9aws_bin" "$@"
  else
    command aws "$@"
  fi
}

if (( $+commands[aws_completer] )); then
  if (( ! $+functions[compdef] )); then
    autoload -Uz compinit && compinit -u
  fi
  autoload -Uz bashcompinit && bashcompinit
  complete -C aws_completer aws
  complete -C aws_completer c9aws
fi
