// What page templates know of the brand: the `branding` object of Heroku's proxy
// (lib/branding-config.js there), so that an operator's copy of Heroku's _layout.ejs renders as it
// did there, with the same colour schemes. Our own layout uses the title and favicon.
import type { Config } from '../config/types.js';

export interface BrandColors {
  primary: string;
  secondary: string;
  background: string;
  text: string;
  textMuted: string;
  border: string;
}

export interface Branding {
  /** BRANDING_TITLE (default `Login for Model Context Protocol`), ` | Heroku` added for Heroku Identity. */
  title: string;
  favicon: string | undefined;
  /** A small SVG word mark, inserted unescaped by Heroku's layout (`<%- branding.logo %>`). */
  logo: string;
  colors: BrandColors;
  /** The identity provider is Heroku Identity (production or staging). */
  heroku: boolean;
}

// Heroku's two colour schemes, value for value.
const HEROKU_COLORS: BrandColors = {
  primary: '#8363a1',
  secondary: '#74a8c3',
  background: 'linear-gradient(135deg, #8363a1 0%, #74a8c3 100%)',
  text: '#fff',
  textMuted: 'rgba(255, 255, 255, 0.6)',
  border: 'rgba(255, 255, 255, 0.9)',
};
const GENERIC_COLORS: BrandColors = {
  primary: '#a7bcd9',
  secondary: '#718096',
  background: 'linear-gradient(135deg, #f7fafc 0%, #e2e8f0 100%)',
  text: '#2d3748',
  textMuted: '#718096',
  border: '#bbc2c9',
};

const wordMark = (text: string, fill: string): string =>
  `<svg width="120" height="32" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${text}">` +
  `<text x="0" y="24" font-family="Arial, sans-serif" font-size="20" font-weight="bold" fill="${fill}">${text}</text></svg>`;

export function pageBranding(branding: Config['branding']): Branding {
  const { title, favicon, heroku } = branding;
  return heroku
    ? { title, favicon, heroku, colors: HEROKU_COLORS, logo: wordMark('Heroku', 'rgba(255, 255, 255, 0.6)') }
    : { title, favicon, heroku, colors: GENERIC_COLORS, logo: wordMark('MCP Auth', '#4a5568') };
}
