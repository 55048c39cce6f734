//! Placeholder: the kernel lab (issue 3) lands here.
