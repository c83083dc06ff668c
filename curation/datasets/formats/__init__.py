"""Binary export formats (Parquet, a Hugging Face datasets folder), written from plain ExportItems, no Django."""
