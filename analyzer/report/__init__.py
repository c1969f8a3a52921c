"""Report writers: records -> DataFrames, tables and files. The core never imports this."""
