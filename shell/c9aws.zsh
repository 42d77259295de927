# c9aws shell integration for zsh. Load it from ~/.zshrc, after compinit
# (and after oh-my-zsh or any framework that runs compinit), with:
#   eval "$(c9aws init zsh)"
# `aws` then runs through c9aws (while the c9aws binary exists; otherwise the
# real aws runs), and tab completion answers for both `aws` and `c9aws`
# through the AWS CLI's own aws_completer (zsh's bash-completion bridge, as
# AWS documents it). `command aws …` bypasses c9aws.
typeset -g __c9aws_bin=@C9AWS_BIN@

# Programs, not only this shell: kubectl's exec plugin, make, eksctl and IDE
# tasks find `aws` through PATH, where a function never reaches. When
# `c9aws setup --path-shim` made it, the directory whose `aws` is a symlink
# to c9aws goes first on PATH (once). `c9aws setup --remove-path-shim` undoes it.
typeset -g __c9aws_path_dir=@C9AWS_PATH_DIR@
if [ -n "$__c9aws_path_dir" ] && [ -L "$__c9aws_path_dir/aws" ]; then
  case ":$PATH:" in
    *":$__c9aws_path_dir:"*) ;;
    *) PATH="$__c9aws_path_dir:$PATH"; export PATH ;;
  esac
fi

# A function, not an alias: it is found wherever a command is, and it falls
# back to the real aws by itself. `command aws` skips it.
# An alias named aws would win over the function when typed; `function NAME`
# because zsh refuses `NAME()` when NAME is an alias at parse time.
unalias aws 2>/dev/null || true
function aws {
  if [[ -x $__c9aws_bin ]]; then
    "$__c9aws_bin" "$@"
  else
    command aws "$@"
  fi
}

# Completion for c9aws (called by bashcompinit with COMP_LINE, COMP_POINT,
# COMP_WORDS, COMP_CWORD set): its own words first, then the AWS CLI's; after
# `c9aws explain [--json] [--refresh]` the rest completes as an aws line.
__c9aws_complete() {
  emulate -L zsh
  local line=${COMP_LINE[1,COMP_POINT]} cur=${COMP_WORDS[COMP_CWORD+1]-}
  COMPREPLY=()
  if (( COMP_CWORD == 1 )); then
    COMPREPLY=(${(M)${=:-explain doctor init setup exec credential-process}:#${(b)cur}*})
  elif (( COMP_CWORD == 2 )) && [[ ${COMP_WORDS[2]-} == init ]]; then
    COMPREPLY=(${(M)${=:-bash zsh fish}:#${(b)cur}*})
    return 0
  elif [[ ${COMP_WORDS[2]-} == explain ]]; then
    line=${line#*[[:space:]]explain}
    while [[ $line =~ '^[[:space:]]+(--json|--refresh)([[:space:]].*)$' ]]; do
      line=${match[2]}
    done
    line="aws$line"
    if [[ $cur == -* && $line =~ '^aws[[:space:]]+-[^[:space:]]*$' ]]; then
      COMPREPLY=(${(M)${=:-"--json --refresh"}:#${(b)cur}*})
    fi
  fi
  if (( $+commands[aws_completer] )); then
    # AWS CLI v1 ends all but the last candidate with a space.
    COMPREPLY+=(${${(f)"$(COMP_LINE=$line COMP_POINT=${#line} aws_completer 2>/dev/null)"}% })
  fi
  return 0
}

if (( ! $+functions[compdef] )); then
  autoload -Uz compinit && compinit -u
fi
autoload -Uz bashcompinit && bashcompinit
if (( $+commands[aws_completer] )); then
  complete -C aws_completer aws
fi
complete -F __c9aws_complete c9aws
