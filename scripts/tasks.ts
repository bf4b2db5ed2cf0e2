// Hardhat tasks are registered from here (see scripts/tasks/*).
export {};
