"""Progress where stderr is no terminal: a line per tenth of each task, not a bar that leaves nothing in a log."""

from promptopt.commands.output import task_progress


def test_progress_in_a_log_is_a_line_per_tenth(capsys):
    with task_progress(quiet=False) as progress:
        for done in range(1, 21):
            progress("render", done, 20)
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"render: {n}/20" for n in range(2, 21, 2)]


def test_quiet_progress_prints_nothing(capsys):
    with task_progress(quiet=True) as progress:
        progress("render", 1, 1)
    assert capsys.readouterr().err == ""
