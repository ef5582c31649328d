/**
 * `examples/store-engine/` is a user's engine and its test, written against the package (`lifeline/store`,
 * `lifeline/testing`, resolved through package.json's exports to dist/): importing the test registers its
 * conformance suite here, so the suite runs from the built entry exactly as a third party runs it.
 */
import '../../examples/store-engine/timed-store.test.mjs';
