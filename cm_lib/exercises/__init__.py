"""Self-checks for the notebooks' "Your turn" exercises: one module per notebook (nb01, nb02, ...).

Each `check_<name>(answer) -> bool` prints a friendly ✅ or ❌ with a hint, and returns the verdict
so that the solution notebooks can `assert` it.
"""
