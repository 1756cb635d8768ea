"""The chapter's BERT: its configuration, blocks and saved folders."""
