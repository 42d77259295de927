# c9aws shell integration for fish. Load it from ~/.config/fish/config.fish with:
#   c9aws init fish | source
# `aws` then runs through c9aws (while the c9aws binary exists; otherwise the
# real aws runs), and tab completion answers for both `aws` and `c9aws`
# through the AWS CLI's own aws_completer. `command aws …` bypasses c9aws.
set -g __c9aws_bin @C9AWS_BIN@

# Programs, not only this shell: kubectl's exec plugin, make, eksctl and IDE
# tasks find `aws` through PATH, where a function never reaches. When
# `c9aws setup --path-shim` made it, the directory whose `aws` is a symlink
# to c9aws goes first on PATH (once). `c9aws setup --remove-path-shim` undoes it.
set -g __c9aws_path_dir @C9AWS_PATH_DIR@
if test -n "$__c9aws_path_dir"; and test -L "$__c9aws_path_dir/aws"; and not contains -- $__c9aws_path_dir $PATH
    set -gx PATH $__c9aws_path_dir $PATH
end

# A function, not an alias: it falls back to the real aws by itself.
function aws --description 'aws, through c9aws'
    if test -x "$__c9aws_bin"
        $__c9aws_bin $argv
    else
        command aws $argv
    end
end

# What aws_completer answers for LINE (the text up to the cursor). AWS CLI v1
# ends all but the last candidate with a space.
function __c9aws_aws_completer --argument-names line
    set -lx COMP_SHELL fish
    set -lx COMP_LINE $line
    set -lx COMP_POINT (string length -- $line)
    aws_completer 2>/dev/null | string replace -r ' $' ''
end

# True when the word after `c9aws` is WORD.
function __c9aws_after --argument-names word
    set -l words (commandline -opc)
    test (count $words) -ge 2; and test "$words[2]" = $word
end

# c9aws: after `c9aws explain [--json] [--refresh]` the rest completes as an
# aws command line; anywhere else the CLI's answers for the line as typed.
function __c9aws_complete
    # `c9aws init` takes a shell name, nothing of the CLI's.
    __c9aws_after init; and return
    set -l line (commandline -pc | string collect)
    set -l rest (string replace -r '^\s*\S+\s+explain((\s+--(json|refresh))*)(?=\s)' '' -- $line)
    if test "$rest" != "$line"
        __c9aws_aws_completer "aws$rest"
    else
        __c9aws_aws_completer $line
    end
end

if type -q aws_completer
    complete --erase --command aws
    complete --command aws --no-files --arguments '(__c9aws_aws_completer (commandline -pc | string collect))'
    complete --command c9aws --no-files --arguments '(__c9aws_complete)'
end
complete --command c9aws --no-files --condition __fish_is_first_arg --arguments 'explain doctor init setup exec credential-process'
complete --command c9aws --no-files --condition '__c9aws_after init; and test (count (commandline -opc)) -eq 2' --arguments 'bash zsh fish'
complete --command c9aws --no-files --condition '__c9aws_after explain' --long-option json --long-option refresh
