"""Learning from coders: audited notes from decision exports, evaluation gates."""
