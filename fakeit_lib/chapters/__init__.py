"""One module per chapter of the book: its parameters (a dataclass the notebook mirrors), the stages it runs, its
tables and figures, and the findings it checks. A notebook imports its chapter module and makes one call per step."""
