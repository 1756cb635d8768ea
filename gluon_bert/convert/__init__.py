"""Importing real pretrained BERTs: Hugging Face folders and the GluonNLP zoo."""
