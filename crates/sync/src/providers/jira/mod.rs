//! jira connector: arrives in the next commit.
