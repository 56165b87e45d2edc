"""Recipes: ready-made tasks built on the operations (`corral.recipes.deploy`)."""
