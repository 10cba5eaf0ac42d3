"""Run AWS CLI commands as `.venv/bin/aws` does, without paying its start-up every time.

`.venv/bin/aws` is `sys.exit(awscli.clidriver.main())`; most of its half second goes to
importing awscli, its botocore and the CLI's plugins. This process imports them once, then,
for each request, forks a child that takes the request's environment, arguments, stdout
and stderr and runs that same `awscli.clidriver.main()` from scratch (a new driver, a new
botocore session, its own config and credentials from that environment). Nothing of one
command survives into the next: each runs in a child that exits.

Protocol (one JSON object a line): the test writes
`{"args": [...after "aws"], "env": {...}, "stdout": PATH, "stderr": PATH}` to stdin and
reads `{"returncode": N}` once the command has finished. sesv2_clients.AwsCliForks uses it.
"""

from __future__ import annotations

import json
import os
import sys
import traceback

import awscli
import awscli.clidriver

# Importing awscli appends its data directory to AWS_DATA_PATH in os.environ (that import
# happened here once, not in each child): each child's environment gets the same treatment.
DATA = os.path.join(os.path.dirname(os.path.abspath(awscli.__file__)), "data")


def _environment(given: dict[str, str]) -> dict[str, str]:
    env = dict(given)
    if env.get("LC_CTYPE", "") == "UTF-8":  # as .venv/bin/aws does
        env["LC_CTYPE"] = "en_US.UTF-8"
    paths = env["AWS_DATA_PATH"].split(os.pathsep) if "AWS_DATA_PATH" in env else []
    paths = [os.path.expanduser(os.path.expandvars(path)) for path in paths]
    env["AWS_DATA_PATH"] = os.pathsep.join([*paths, DATA])
    return env


def _exit_status(code: object) -> int:
    """What `sys.exit(code)` makes the exit status."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _child(request: dict[str, object]) -> None:
    os.environ.clear()
    os.environ.update(_environment(dict(request["env"])))  # type: ignore[call-overload]
    stdin = os.open(os.devnull, os.O_RDONLY)
    os.dup2(stdin, 0)
    for fd, name in ((1, "stdout"), (2, "stderr")):
        target = os.open(str(request[name]), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
    sys.argv = ["aws", *list(request["args"])]  # type: ignore[call-overload]
    status = 1
    try:
        status = _exit_status(awscli.clidriver.main())
    except SystemExit as exit_:
        status = _exit_status(exit_.code)
    except BaseException:
        traceback.print_exc()  # as Python does for an uncaught exception: exit status 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def main() -> None:
    awscli.clidriver.create_clidriver()  # imports the plugins; this driver is dropped
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}), flush=True)


if __name__ == "__main__":
    main()
