"""What the paper reports and how the book checks it: its tables' numbers (`results`), the registry of its findings
(`claims`), the engine that decides them (`findings`), intervals over seeds (`stats`), the count over all findings
(`summary`), the rules' error rates by simulation (`calibration`) and the cells of the book's tables (`tables`).

May import `core` only, so every stage can name the paper's test sets and numbers.
"""
