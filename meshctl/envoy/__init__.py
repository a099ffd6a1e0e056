"""Everything about real Envoys: running them, reading their admin API, parsing dumps, views, diff, explain."""
