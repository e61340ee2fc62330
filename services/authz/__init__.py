"""Access control: who the caller is, what they may do, and admission of writes."""
