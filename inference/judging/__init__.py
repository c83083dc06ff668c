"""A model as judge of a study (LIMA repeated its pairwise study with GPT-4 as the annotator): judge runs asked
through a model endpoint (inference.endpoints' client), both orders per item, cached calls, results beside
people's."""
