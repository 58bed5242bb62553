-- 0016: team roles. `admin` manages the team's connections and roles, `maintainer` its review rules and
-- approvals, `member` uses what the team has. Every existing team gets its earliest member as admin, so someone
-- can manage it over the API; until now every membership was a plain member.
ALTER TABLE memberships DROP CONSTRAINT memberships_role_check;
ALTER TABLE memberships ADD CONSTRAINT memberships_role_check CHECK (role IN ('admin', 'maintainer', 'member'));
UPDATE memberships m SET role = 'admin'
WHERE m.id IN (SELECT DISTINCT ON (team_id) id FROM memberships ORDER BY team_id, created_at, id)
  AND NOT EXISTS (SELECT 1 FROM memberships a WHERE a.team_id = m.team_id AND a.role = 'admin');
