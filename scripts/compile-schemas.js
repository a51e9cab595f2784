'use strict';
// Placeholder until the schemas land: filled in by the spec-schemas work.
exports.compileSchemas = function compileSchemas() {};
