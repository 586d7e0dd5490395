// The device flow's forms (RFC 8628 user code input and confirmation) as oidc-provider builds
// them, taken apart so our pages can draw their own, accessible ones (a labelled input, no inline
// event handler our Content-Security-Policy would block) with the same action and hidden fields
// (the anti-CSRF `xsrf` bound to the browser's session, the code, `confirm`).
export interface DeviceForm {
  action: string;
  /** Hidden fields, in order, to post back unchanged. */
  hidden: { name: string; value: string }[];
  /** The code already typed (the input form, shown again after an error). */
  code: string | undefined;
}

const decode = (value: string): string =>
  value.replace(/&(#x[0-9a-f]+|#\d+|amp|quot|lt|gt|apos|#39);/gi, (entity, body: string) => {
    const lower = body.toLowerCase();
    if (lower.startsWith('#x')) return String.fromCodePoint(parseInt(lower.slice(2), 16));
    if (lower.startsWith('#')) return String.fromCodePoint(parseInt(lower.slice(1), 10));
    return ({ amp: '&', quot: '"', lt: '<', gt: '>', apos: "'" } as Record<string, string>)[lower] ?? entity;
  });

const attribute = (tag: string, name: string): string | undefined => {
  const match = new RegExp(`\\s${name}="([^"]*)"`, 'i').exec(tag);
  return match ? decode(match[1]!) : undefined;
};

/** Throws when the markup is not the form it should be (a changed oidc-provider): never a broken page. */
export function parseDeviceForm(html: string): DeviceForm {
  const form = /<form\b[^>]*>/i.exec(html)?.[0];
  const action = form ? attribute(form, 'action') : undefined;
  if (!action) throw new Error('device flow form without an action');
  const hidden: DeviceForm['hidden'] = [];
  let code: string | undefined;
  for (const [tag] of html.matchAll(/<input\b[^>]*>/gi)) {
    const name = attribute(tag, 'name');
    if (!name) continue;
    if (attribute(tag, 'type') === 'hidden') hidden.push({ name, value: attribute(tag, 'value') ?? '' });
    else if (name === 'user_code') code = attribute(tag, 'value');
  }
  if (!hidden.some((field) => field.name === 'xsrf')) throw new Error('device flow form without its xsrf field');
  return { action, hidden, code };
}
