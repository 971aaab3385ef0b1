import { Testing } from "cdktf";
// Registers cdktf's jest matchers (toHaveResource, toHaveResourceWithProperties, ...).
Testing.setupJest();
