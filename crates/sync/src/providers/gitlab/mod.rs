//! gitlab connector: arrives in the next commit.
