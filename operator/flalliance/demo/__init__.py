"""The on-cluster demo: watch an FLTask run (progress lines), then read its outcome from the chain."""
