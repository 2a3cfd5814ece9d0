"""What users see: console tables and progress (`tables`), charts (`plots`), the HTML report
(`html`), and the files `--out` writes (`files`)."""
