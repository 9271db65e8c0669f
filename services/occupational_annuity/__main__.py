"""`python -m services.occupational_annuity`."""

from services.occupational_annuity.app import main

main()
