"""`python -m services.collection`: run the collection service until a signal."""

from services.collection.app import main

main()
