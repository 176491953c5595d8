// The images workload's registration with the worker.
import type { Workload } from "../workload.ts";

export const imagesWorkload: Workload = {
  name: "images",
  register() {},
};
