# c9aws shell integration for fish. Load it from ~/.config/fish/config.fish with:
#   c9aws init fish | source
# `aws` then runs through c9aws (while the c9aws binary exists; otherwise the
# real aws runs), and tab completion answers for both `aws` and `c9aws`
# through the AWS CLI's own aws_completer. `command aws …` bypasses c9aws.
set -g __c9aws_bin @C9AWS_BIN@

function aws --description 'aws, through c9aws'
    if test -x $__c9aws_bin
        $__c9aws_bin $argv
    else
        command aws $argv
    end
end

function __c9aws_complete
    set -lx COMP_SHELL fish
    set -lx COMP_LINE (commandline -pc)
    aws_completer | string replace -r ' $' ''
end

if type -q aws_completer
    complete --erase --command aws
    complete --command aws --no-files --arguments '(__c9aws_complete)'
    complete --command c9aws --no-files --condition __fish_is_first_arg --arguments 'explain doctor init setup exec credential-process'
    complete --command c9aws --no-files --arguments '(__c9aws_complete)'
end
