"""Thin seams over AWS services: one small module per service, each wrapping a boto3 client."""
