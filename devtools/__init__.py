"""Development tools, run from the repository (`make sample`): not in the `wa-etl` wheel,
which holds only `flows` and `transforms`."""
