"""Grading students' notebooks safely (`python -m cm_lib grade`, docs/TEACHING.md).

- `lesson`: which lesson a submission answers, its exercises and the expressions that hold the answers.
- `codec`: values across process boundaries as JSON of plain values (never pickle).
- `integrity`: the pristine copy of the course the checks run from, and the hashes that guard it.
- `sandbox`: bubblewrap around every process that runs or serves a submission; limits inside it.
- `runner`: runs one submission's notebook inside the sandbox and serves calls to its functions.
- `in_kernel`: what the runner's injected cells call inside the student's kernel.
- `checker`: re-runs the lesson's `check_*` functions, in a process no submission code runs in.
- `session`: the teacher-side process that starts, relays and stops the two.
"""
