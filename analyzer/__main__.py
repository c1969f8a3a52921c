"""``python -m analyzer`` is the same as the ``pcap-analyzer`` command."""

from analyzer.cli import main

main()
