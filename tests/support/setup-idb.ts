// Node has no IndexedDB globals (IDBKeyRange, IDBDatabase…): provide fake-indexeddb's.
import 'fake-indexeddb/auto';
