"""Services: the only code that writes. One module per concern; every public function
takes keyword-only arguments after the first and runs in one transaction."""
