"""What the paper reports and how the book checks it: its tables' numbers (`results`), the findings with their
rules and verdicts (`findings`), intervals over seeds (`stats`) and the cells of the book's tables (`tables`).

May import `core` only, so every stage can name the paper's test sets and numbers.
"""
