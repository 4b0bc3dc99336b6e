"""Text processing: tokens with offsets, sentences."""
