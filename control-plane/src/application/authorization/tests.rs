//! Tests of `authorization`.
