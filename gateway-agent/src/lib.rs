//! gateway agent
