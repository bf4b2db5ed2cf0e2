// Hardhat tasks, registered by hardhat.config.ts. One import per task module; keep it a plain list.
import "./tasks/deploy";
import "./tasks/tenant";
import "./tasks/submit";
import "./tasks/relay";
import "./tasks/roles";
import "./tasks/pause";
import "./tasks/anchor";
import "./tasks/audit";
import "./tasks/verify-invoice";
import "./tasks/expire";
import "./tasks/export-tenant";
