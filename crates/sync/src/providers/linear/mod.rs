//! linear connector: arrives in the next commit.
