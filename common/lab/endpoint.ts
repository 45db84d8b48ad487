export interface Endpoint {
  ip: string;
  port: number;
}

/** 'ip:port' */
export function endpoint(e: Endpoint): string {
  return `${e.ip}:${e.port}`;
}
