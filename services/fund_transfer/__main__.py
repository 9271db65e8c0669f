"""`python -m services.fund_transfer`."""

from services.fund_transfer.app import main

main()
