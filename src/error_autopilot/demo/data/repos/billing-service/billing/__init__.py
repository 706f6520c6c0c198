"""Invoices for the storefront."""
