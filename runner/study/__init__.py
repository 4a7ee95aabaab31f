"""A study: a sweep of specs x tasks x seeds, its plan, and its report (tables, figures)."""
