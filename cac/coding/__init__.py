"""Document-level coding: phrase matching, lexicon, ranking."""
