ardour { ["type"] = "EditorAction", name = "Studio Bridge: Apply pending plan",
	license     = "MIT",
	author      = "Studio Bridge",
	description = [[Apply the plan the Studio Bridge has waiting for this session (or an answer that came after an action stopped waiting). Needs the Studio Bridge running beside Ardour.]]
}

-- Part of Studio Bridge; install with studio_bridge_ardour.lua (see docs/ardour.md).

function factory (params) return function ()
	-- the shared library lives beside this script (Ardour keeps a copy of an action's own
	-- text, not of files it loads, so the library must stay in the scripts folder)
	local dir = os.getenv ("STUDIO_BRIDGE_ARDOUR_SCRIPTS")
	if not dir or dir == "" then dir = ARDOUR.user_config_directory (-1) .. "/scripts" end
	local path = dir .. "/studio_bridge_ardour.lua"
	local fh = io.open (path, "rb")
	if not fh then
		local msg = "Studio Bridge: " .. path .. " is missing; copy it next to the action scripts."
		print (msg)
		if LuaDialog then
			LuaDialog.Message ("Studio Bridge", msg, LuaDialog.MessageType.Error, LuaDialog.ButtonType.Close):run ()
		end
		return
	end
	local chunk, err = load (fh:read ("a"), "@" .. path)
	fh:close ()
	if not chunk then print ("Studio Bridge: " .. tostring (err)) return end
	local SB = chunk ()
	SB.run_pending ("Apply pending plan")
end end
