// Locates ../shared (beside the project), failing loudly when it is missing: the same lookup the benchmarks use.
export { sharedDataPath as sharedPath } from '../../src/localStack/sharedData';
